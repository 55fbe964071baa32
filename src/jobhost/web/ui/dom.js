// Building DOM from data. Every string becomes a text node or an attribute value, never markup:
// nothing here (or anywhere in the page) parses a string as HTML.

/**
 * h("button", {class: "x", text: label, onclick: fn}, child, ...) → a new element.
 * Children may be elements, strings (inserted as text), arrays of those, or null.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    setProp(element, key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      element.append(child); // a string is appended as a text node
    }
  }
  return element;
}

function setProp(element, key, value) {
  if (value === undefined || value === null || value === false) {
    return;
  }
  if (key === "class") {
    element.className = value;
  } else if (key === "text") {
    element.textContent = String(value);
  } else if (key === "dataset") {
    Object.assign(element.dataset, value);
  } else if (key.startsWith("on")) {
    if (typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    }
  } else {
    element.setAttribute(key, value === true ? "" : String(value));
  }
}

export function byId(id) {
  const element = document.getElementById(id);
  if (element === null) {
    throw new Error(`The page lacks #${id}`);
  }
  return element;
}

/** "3 s", "2 min 05 s", "1 h 02 min"; fractions only under ten seconds and when asked. */
export function formatDuration(seconds, precise = false) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) {
    return "—";
  }
  if (seconds < 10 && precise) {
    return `${seconds.toFixed(seconds < 1 ? 2 : 1)} s`;
  }
  const whole = Math.max(0, Math.floor(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  if (h > 0) {
    return `${h} h ${String(m).padStart(2, "0")} min`;
  }
  if (m > 0) {
    return `${m} min ${String(s).padStart(2, "0")} s`;
  }
  return `${s} s`;
}

const TIME_FORMAT = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "medium",
});

/** A <time> element for an ISO 8601 timestamp, shown in the browser's time zone. */
export function timeElement(iso) {
  if (!iso) {
    return h("span", { text: "—" });
  }
  const date = new Date(iso);
  const text = Number.isNaN(date.getTime()) ? iso : TIME_FORMAT.format(date);
  return h("time", { datetime: iso, title: iso, text });
}

const ZONED_FORMAT = {
  weekday: "short",
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
};
const zoneFormats = new Map();

/** A <time> element for an ISO 8601 timestamp as clocks read it in an IANA time zone. */
export function zonedTimeElement(iso, zone) {
  if (!iso) {
    return h("span", { text: "—" });
  }
  const date = new Date(iso);
  const text = Number.isNaN(date.getTime()) ? iso : zoneFormat(zone).format(date);
  return h("time", { datetime: iso, title: iso, text });
}

function zoneFormat(zone) {
  if (!zoneFormats.has(zone)) {
    try {
      zoneFormats.set(zone, new Intl.DateTimeFormat(undefined, { ...ZONED_FORMAT, timeZone: zone }));
    } catch {
      return new Intl.DateTimeFormat(undefined, ZONED_FORMAT); // an unknown zone: the browser's
    }
  }
  return zoneFormats.get(zone);
}
