// The index page of the seed: Catalog, Metadata, Load Buckets, and a minimal document list
// (upload, download, delete). No framework, no dependencies.
"use strict";

function showStatus(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

function formatDate(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

async function loadBuckets() {
  const container = document.getElementById("folder-container");
  showStatus("Loading buckets…", false);
  try {
    const buckets = [];
    let url = "/catalog/Buckets";
    // Follow server-driven paging until the last page.
    while (url) {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
        throw new Error(message);
      }
      buckets.push(...body.value);
      const next = body["@odata.nextLink"];
      url = next ? new URL(next, new URL(url, location.href)).toString() : null;
    }
    container.replaceChildren(...buckets.map(folder));
    showStatus(buckets.length === 1 ? "1 bucket" : `${buckets.length} buckets`, false);
  } catch (error) {
    container.replaceChildren();
    showStatus(`Could not load buckets: ${error.message}`, true);
  }
}

function folder(bucket) {
  const div = document.createElement("div");
  div.className = "folder";
  div.dataset.bucket = bucket.id;
  const icon = document.createElement("span");
  icon.className = "icon";
  icon.setAttribute("aria-hidden", "true");
  const name = document.createElement("span");
  name.className = "bucket-name";
  name.textContent = bucket.name;
  const created = document.createElement("span");
  created.className = "bucket-created";
  created.textContent = formatDate(bucket.created);
  created.title = bucket.created || "";
  div.append(icon, name, created);
  return div;
}

// The session's CSRF token (SAP's convention): fetched once with a safe request, sent back on
// every change.
let csrfToken = null;
async function csrf() {
  if (!csrfToken) {
    const response = await fetch("/catalog/", { headers: { "X-CSRF-Token": "Fetch" } });
    csrfToken = response.headers.get("X-CSRF-Token");
  }
  return csrfToken;
}

async function failure(response) {
  const body = await response.json().catch(() => null);
  return new Error(body && body.error ? body.error.message : `HTTP ${response.status}`);
}

function documentsStatus(text, isError) {
  const status = document.getElementById("documents-status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

function humanSize(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

async function loadDocuments() {
  try {
    const response = await fetch("/catalog/Documents?$orderby=createdAt%20desc&$top=50", {
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw await failure(response);
    const body = await response.json();
    document.getElementById("documents-rows").replaceChildren(...body.value.map(documentRow));
    documentsStatus(body.value.length === 1 ? "1 document" : `${body.value.length} documents`, false);
  } catch (error) {
    documentsStatus(`Could not load documents: ${error.message}`, true);
  }
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  return td;
}

function documentRow(doc) {
  const tr = document.createElement("tr");
  tr.dataset.id = doc.ID;
  const name = document.createElement("td");
  if (doc.status === "available") {
    const link = document.createElement("a");
    link.href = `/catalog/Documents(${encodeURIComponent(doc.ID)})/content`;
    link.textContent = doc.fileName;
    link.className = "download";
    name.append(link);
  } else {
    name.textContent = doc.fileName;
  }
  const actions = document.createElement("td");
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "link-button delete";
  remove.textContent = "Delete";
  remove.addEventListener("click", () => deleteDocument(doc));
  actions.append(remove);
  tr.append(name, cell(humanSize(doc.size), "size"), cell(doc.status, "status"),
    cell(doc.documentNumber), cell(doc.location), cell(formatDate(doc.createdAt)), actions);
  return tr;
}

async function uploadDocument(event) {
  event.preventDefault();
  const file = document.getElementById("upload-file").files[0];
  if (!file) return;
  const text = (id) => document.getElementById(id).value.trim() || null;
  documentsStatus(`Uploading ${file.name}…`, false);
  try {
    const token = await csrf();
    const created = await fetch("/catalog/Documents", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": token },
      body: JSON.stringify({
        fileName: file.name,
        documentNumber: text("upload-number"),
        location: text("upload-location"),
      }),
    });
    if (!created.ok) throw await failure(created);
    const doc = await created.json();
    const put = await fetch(`/catalog/Documents(${encodeURIComponent(doc.ID)})/content`, {
      method: "PUT",
      headers: { "Content-Type": file.type || "application/octet-stream", "X-CSRF-Token": token },
      body: file,
    });
    if (!put.ok) {
      const error = await failure(put);
      // Take the empty document away again, so nothing half-made stays in the list.
      await fetch(`/catalog/Documents(${encodeURIComponent(doc.ID)})`, {
        method: "DELETE", headers: { "X-CSRF-Token": token },
      });
      throw error;
    }
    document.getElementById("upload-form").reset();
    await loadDocuments();
    documentsStatus(`Uploaded ${file.name}`, false);
  } catch (error) {
    documentsStatus(`Could not upload ${file.name}: ${error.message}`, true);
  }
}

async function deleteDocument(doc) {
  try {
    const response = await fetch(`/catalog/Documents(${encodeURIComponent(doc.ID)})`, {
      method: "DELETE", headers: { "X-CSRF-Token": await csrf() },
    });
    if (!response.ok) throw await failure(response);
    await loadDocuments();
    documentsStatus(`Deleted ${doc.fileName}`, false);
  } catch (error) {
    documentsStatus(`Could not delete ${doc.fileName}: ${error.message}`, true);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("upload-form").addEventListener("submit", uploadDocument);
  loadDocuments();
  document.getElementById("catalog").addEventListener("click", () => {
    location.href = "/catalog/";
  });
  document.getElementById("metadata").addEventListener("click", () => {
    location.href = "/catalog/$metadata";
  });
  document.getElementById("load-buckets").addEventListener("click", loadBuckets);
});
