//! The local EventBridge Scheduler: the Scheduler API and a scheduler that fires (being built;
//! issue 9).
