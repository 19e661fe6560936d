// The index page of the seed: Catalog, Metadata, Load Buckets. No framework, no dependencies.
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

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("catalog").addEventListener("click", () => {
    location.href = "/catalog/";
  });
  document.getElementById("metadata").addEventListener("click", () => {
    location.href = "/catalog/$metadata";
  });
  document.getElementById("load-buckets").addEventListener("click", loadBuckets);
});
