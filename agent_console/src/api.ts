// JSON over the REST API with the session cookie. Errors carry the server's machine-readable code
// (docs/protocol.md §5), so views can tell "locked" from "wrong password".

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    // The server only takes writes as application/json: a cross-site form cannot send that.
    init.headers = { "content-type": "application/json" };
    init.body = JSON.stringify(body);
  } else if (method !== "GET" && method !== "HEAD") {
    // A write without a body says it is ours with a header no other origin can send without a
    // CORS preflight (docs/operations.md, "Security model").
    init.headers = { "x-papote-request": "1" };
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "network error");
  }
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? "internal", error?.message ?? response.statusText);
  }
  return data as T;
}

export function query(params: Record<string, string | number | null | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "") continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? "?" + parts.join("&") : "";
}
