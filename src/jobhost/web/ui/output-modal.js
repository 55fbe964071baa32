// The output modal: a job's details and its output, streamed live over the jobs/stream
// WebSocket from a byte offset (a reconnect resumes where the last message ended).

import { AnsiText } from "./ansi.js";
import { BASE, request, socketUrl } from "./api.js";
import { byId, formatDuration, h, timeElement } from "./dom.js";
import { category, modeBadge, statusBadge } from "./jobs-view.js";

const MAX_SHOWN_CHARS = 2_000_000;
const NEAR_BOTTOM_PX = 24;
const RECONNECT_MS = [500, 1000, 2000, 5000];

export class OutputModal {
  /** returnFocus(job, opener) puts the focus back when the modal closes. */
  constructor(returnFocus) {
    this.dialog = byId("output-dialog");
    this.text = byId("output-text");
    this.status = byId("output-status");
    this.follow = byId("output-follow");
    this.returnFocus = returnFocus;
    this.job = null;
    this.socket = null;
    byId("output-close").addEventListener("click", () => this.close());
    byId("output-refresh").addEventListener("click", () => this.restart());
    byId("output-copy").addEventListener("click", () => this.copy());
    this.follow.addEventListener("click", () => this.scrollToEnd());
    this.text.addEventListener("scroll", () => this.noteScroll());
    // ESC closes a modal <dialog> by itself (a "cancel" event, then "close").
    this.dialog.addEventListener("close", () => this.closed());
  }

  get isOpen() {
    return this.dialog.open;
  }

  open(job, opener) {
    this.job = job;
    this.opener = opener;
    byId("output-title").textContent = category(job) === "running" ? "Live job output" : "Job details";
    byId("output-job-name").textContent = job.JobName;
    byId("output-job-id").textContent = job.JobID;
    this.showBadges(job);
    this.showDetails(job);
    this.dialog.showModal();
    this.restart();
    this.loadDetails(job.JobID);
  }

  close() {
    if (this.dialog.open) {
      this.dialog.close();
    }
  }

  closed() {
    this.disconnect();
    const { job, opener } = this;
    this.job = null;
    if (job !== null) {
      this.returnFocus(job, opener);
    }
  }

  /** Read the whole output again, from offset 0. */
  restart() {
    this.disconnect();
    this.text.replaceChildren();
    this.shownChars = 0;
    this.nextOffset = 0;
    this.ansi = new AnsiText();
    this.finished = false;
    this.attempt = 0;
    this.following = true;
    this.follow.hidden = true;
    byId("output-cut").hidden = true;
    this.connect();
  }

  connect() {
    const query = { jobId: this.job.JobID, offset: this.nextOffset };
    const socket = new WebSocket(socketUrl(`${BASE}/jobs/stream`, query));
    this.socket = socket;
    this.setStatus(this.attempt === 0 ? "Connecting…" : "Reconnecting…");
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.receive(JSON.parse(event.data));
    });
    socket.addEventListener("close", () => {
      if (this.socket === socket) this.lost();
    });
  }

  disconnect() {
    clearTimeout(this.retryTimer);
    const { socket } = this;
    this.socket = null;
    socket?.close();
  }

  lost() {
    this.socket = null;
    if (this.finished || !this.isOpen) return;
    const delay = RECONNECT_MS[Math.min(this.attempt, RECONNECT_MS.length - 1)];
    this.attempt += 1;
    this.setStatus("Connection lost; reconnecting…");
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  receive(message) {
    switch (message.type) {
      case "state":
        this.attempt = 0;
        this.updateJob(message.job);
        this.setStatus(category(message.job) === "running" ? "Live" : message.job.Status);
        break;
      case "output":
        if (message.offset === this.nextOffset) {
          this.append(message.data, false);
          this.nextOffset = message.nextOffset;
        }
        break;
      case "end":
        this.append("", true);
        this.updateJob(message.job);
        this.end(`Finished: ${message.job.Status}`);
        break;
      case "deleted":
        this.end("This job was deleted.");
        break;
      case "error":
        this.end(message.error);
        break;
      default:
        break;
    }
  }

  end(text) {
    this.finished = true;
    this.setStatus(text);
    this.disconnect();
  }

  setStatus(text) {
    this.status.textContent = text;
  }

  append(data, last) {
    const atBottom = this.following;
    for (const { text, className } of this.ansi.feed(data, last)) {
      this.text.append(className ? h("span", { class: className, text }) : text);
      this.shownChars += text.length;
    }
    this.trim();
    if (atBottom) {
      this.scrollToEnd();
    }
  }

  /** Keeps the page responsive for huge outputs: only the last MAX_SHOWN_CHARS stay shown. */
  trim() {
    while (this.shownChars > MAX_SHOWN_CHARS && this.text.firstChild !== null) {
      this.shownChars -= this.text.firstChild.textContent.length;
      this.text.firstChild.remove();
      byId("output-cut").hidden = false;
    }
  }

  scrollToEnd() {
    this.text.scrollTop = this.text.scrollHeight;
    this.following = true;
    this.follow.hidden = true;
  }

  noteScroll() {
    const { scrollHeight, scrollTop, clientHeight } = this.text;
    this.following = scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM_PX;
    this.follow.hidden = this.following || this.finished;
  }

  async copy() {
    const text = this.text.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No clipboard API (plain HTTP on another host, say): select it and use the old command.
      const range = document.createRange();
      range.selectNodeContents(this.text);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      if (!document.execCommand("copy")) {
        this.setStatus("Copy is not available here; the output is selected: press Ctrl+C.");
        return;
      }
      selection.removeAllRanges();
    }
    this.setStatus("Output copied to the clipboard.");
  }

  updateJob(job) {
    if (this.job === null || job.JobID !== this.job.JobID) return;
    this.job = { ...this.job, ...job };
    this.showBadges(this.job);
    this.showDetails(this.job);
  }

  async loadDetails(jobId) {
    try {
      const { job } = await request("GET", `${BASE}/jobs`, { query: { jobId } });
      if (this.job !== null && this.job.JobID === jobId) {
        this.job = { ...job, ...this.job, Command: job.Command };
        this.showDetails(this.job);
      }
    } catch {
      // The stream says what happened (deleted, or the session ended).
    }
  }

  showBadges(job) {
    byId("output-badges").replaceChildren(modeBadge(job.ExecutionMode), " ", statusBadge(job.Status));
  }

  showDetails(job) {
    this.runtime = h("span", { text: formatDuration(job.Runtime, true) });
    this.runtimeBase = { seconds: job.Runtime ?? 0, at: performance.now() };
    const rows = [
      ["Submitted", timeElement(job.SubmittedAt)],
      ["Started", timeElement(job.StartedAt)],
      ["Finished", timeElement(job.CompletedAt)],
      ["Runtime", this.runtime],
      ["Exit code", job.ExitCode === null || job.ExitCode === undefined ? "—" : String(job.ExitCode)],
      ["User", job.UserID ?? "—"],
    ];
    const wide = [];
    if (category(job) === "pending" && job.PendingReason) wide.push(["Why pending", job.PendingReason]);
    if (job.RerunOf) wide.push(["Rerun of", h("code", { text: job.RerunOf })]);
    const used = resourcesText(job);
    if (used) wide.push(["Resources", h("span", { class: "resources", text: used })]);
    if (job.Description) wide.push(["Description", job.Description]);
    if (job.Command !== undefined) wide.push(["Command", h("code", { class: "command", text: job.Command })]);
    const item = (cls) => ([term, value]) => h("div", { class: cls }, h("dt", { text: term }), h("dd", {}, value));
    byId("output-details").replaceChildren(...rows.map(item("")), ...wide.map(item("wide")));
  }

  /** A running job's runtime moves on once a second, like the listing's. */
  tick() {
    if (this.job !== null && this.job.StartedAt && category(this.job) === "running") {
      const elapsed = (performance.now() - this.runtimeBase.at) / 1000;
      this.runtime.textContent = formatDuration(this.runtimeBase.seconds + elapsed);
    }
  }
}

/** What a finished job used, "cpu 1.02 s, max RSS 12.3 MiB"; "" when neither is known. */
function resourcesText(job) {
  const known = (v) => v !== null && v !== undefined;
  if (!known(job.CpuSeconds) && !known(job.MaxRssBytes)) return "";
  const cpu = known(job.CpuSeconds) ? `${job.CpuSeconds.toFixed(2)} s` : "—";
  const rss = known(job.MaxRssBytes) ? `${(job.MaxRssBytes / 1048576).toFixed(1)} MiB` : "—";
  return `cpu ${cpu}, max RSS ${rss}`;
}
