// Attachments: ask the server for a presigned upload (POST /api/uploads, with the token), then
// send the file straight to the bucket with the form that came back. The file never passes
// through the chat server; what the send names afterwards is the attachment's id.

/** The types the server takes (it is the authority: docs/protocol.md, Attachments). */
export const ATTACHMENT_TYPES = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "application/pdf",
  "text/plain",
  "application/zip",
]);

export const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export class UploadError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "UploadError";
    this.code = code;
  }
}

/**
 * Upload `file` for `topic`. Resolves to the attachment {id, filename, contentType, size} a send
 * may carry; rejects with an UploadError (the server's code and message, or "upload_failed").
 * @param {object} where  apiUrl (the HTTP API's base; "" for this page's origin), token
 */
export async function uploadFile({ apiUrl, token }, topic, file) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const asked = await fetch(new URL("/api/uploads", apiUrl || location.href), {
    method: "POST",
    headers,
    credentials: "omit",
    body: JSON.stringify({
      topic,
      filename: file.name || "pasted",
      contentType: file.type,
      size: file.size,
    }),
  });
  const prepared = await asked.json().catch(() => ({}));
  if (!asked.ok) {
    throw new UploadError(prepared.code || "upload_failed", prepared.message || `HTTP ${asked.status}`);
  }
  const form = new FormData();
  for (const [name, value] of Object.entries(prepared.fields || {})) form.append(name, value);
  form.append("file", file);
  const stored = await fetch(prepared.uploadUrl, { method: "POST", body: form, credentials: "omit" });
  if (!stored.ok) throw new UploadError("upload_failed", `the file store said HTTP ${stored.status}`);
  return prepared.attachment;
}
