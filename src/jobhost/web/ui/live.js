// Live updates of the listing: the events WebSocket says when a job changed; while it is down,
// the listing is polled every 5 seconds and the socket is reconnected with a growing delay.

import { BASE, socketUrl } from "./api.js";

const POLL_MS = 5000;
const RECONNECT_MS = [1000, 2000, 4000, 8000, 15000, 30000];
const UNAUTHORIZED = 4401;

export class LiveUpdates {
  /**
   * changed(message) is called when the listing should be read again (message is null for a
   * poll); status(text, live) reports the connection; ended() when the session is gone.
   */
  constructor({ changed, status, ended }) {
    this.changed = changed;
    this.status = status;
    this.ended = ended;
    this.socket = null;
    this.running = false;
  }

  start(allUsers) {
    this.stop();
    this.running = true;
    this.allUsers = allUsers;
    this.attempt = 0;
    this.status("Connecting…", false);
    this.connect();
  }

  stop() {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.stopPolling();
    const { socket } = this;
    this.socket = null;
    socket?.close();
  }

  connect() {
    const query = this.allUsers ? { allUsers: "true" } : {};
    const socket = new WebSocket(socketUrl(`${BASE}/events`, query));
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.receive(JSON.parse(event.data));
    });
    socket.addEventListener("close", (event) => {
      if (this.socket === socket) this.lost(event.code);
    });
  }

  receive(message) {
    if (message.type === "ready") {
      this.attempt = 0;
      this.stopPolling();
      this.status("Live", true);
    }
    // "ready" too: whatever changed while we were not listening is read now.
    this.changed(message);
  }

  lost(code) {
    this.socket = null;
    if (!this.running) return;
    if (code === UNAUTHORIZED) {
      this.ended();
      return;
    }
    this.startPolling();
    const delay = RECONNECT_MS[Math.min(this.attempt, RECONNECT_MS.length - 1)];
    this.attempt += 1;
    this.status("Reconnecting… (refreshing every 5 s)", false);
    this.retryTimer = setTimeout(() => {
      if (this.running) this.connect();
    }, delay);
  }

  startPolling() {
    if (this.pollTimer === undefined) {
      this.pollTimer = setInterval(() => this.changed(null), POLL_MS);
    }
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}
