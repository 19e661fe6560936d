//! The local AWS Lambda: the Invoke API and a Runtime API per function that runs the real
//! `bootstrap` as a child process (being built; issue 9).
