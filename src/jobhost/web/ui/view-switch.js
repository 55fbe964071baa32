// Which of the page's views (Jobs, Catalog, Schedules) is shown, kept in the location's hash
// (#catalog, #schedules) so that a reload or a shared link opens the same view. Switching only
// hides and shows sections: the live connection and the jobs listing stay as they are.

import { byId } from "./dom.js";

const VIEWS = ["jobs", "catalog", "schedules"];

export class ViewSwitch {
  /** shown(name) is called each time a view becomes the visible one. */
  constructor(shown) {
    this.shown = shown;
    this.active = false;
    window.addEventListener("hashchange", () => {
      if (this.active) this.follow();
    });
  }

  /** Signed in: show the view the hash names, and follow the hash from now on. */
  start() {
    this.active = true;
    this.follow();
  }

  stop() {
    this.active = false;
  }

  /** The view the hash names; the Jobs view for any other hash (#job-<id> links too). */
  follow() {
    const wanted = window.location.hash.slice(1);
    const name = VIEWS.includes(wanted) ? wanted : "jobs";
    for (const view of VIEWS) {
      byId(`${view}-view`).hidden = view !== name;
      const link = byId(`nav-${view}`);
      if (view === name) {
        link.setAttribute("aria-current", "page");
      } else {
        link.removeAttribute("aria-current");
      }
    }
    this.shown(name);
  }
}
