// Talking to the server: JSON over fetch with the session cookie, the CSRF header on changes,
// and WebSocket URLs built from the page's own location.

export const BASE = "/apps/WebHostTaskManagement/api/v1";
export const AUTH = "/api/v1/auth";

let csrfToken = null;
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Kept in memory only; the session cookie itself is HttpOnly. */
export function setCsrfToken(token) {
  csrfToken = token;
}

/** Called when a request made while signed in answers 401 (the session ended). */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

function urlFor(path, query) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) {
      url.searchParams.set(key, String(value));
    }
  }
  return url;
}

/**
 * method + path (+ query, + JSON body) → the parsed JSON body of a successful answer.
 * Throws ApiError(status, the server's error text); status 0 when the server is unreachable.
 */
export async function request(method, path, { query, body, quiet401 = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  if (method !== "GET" && csrfToken !== null) {
    headers["X-CSRF-Token"] = csrfToken;
  }
  let response;
  try {
    response = await fetch(urlFor(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "The server cannot be reached");
  }
  const payload = await response.json().catch(() => null);
  if (!response.ok || payload === null || payload.success === false) {
    const message = payload?.error ?? `The server answered ${response.status}`;
    if (response.status === 401 && !quiet401) {
      onUnauthorized();
    }
    throw new ApiError(response.status, message);
  }
  return payload;
}

/** ws:// or wss:// (as the page was loaded) URL for a WebSocket route. */
export function socketUrl(path, query) {
  const url = urlFor(path, query);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}
