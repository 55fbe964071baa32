// ANSI SGR colour codes in job output, turned into styled text segments.
//
// The output is only ever treated as text: escape sequences are cut out of the string and
// the pieces between them become text nodes (inside spans whose class names come from a fixed
// table), so nothing a job prints can become markup.

// CSI sequences (colours, cursor moves, erase), OSC sequences (titles, links) and two-byte
// escapes. Only SGR ("...m") has an effect; the rest are dropped.
const SEQUENCE = /\x1b(?:\[([0-?]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;
const STARTS_COMPLETE = new RegExp(SEQUENCE.source, "y");
// Control characters other than tab, newline and carriage return (and a stray ESC).
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
const LONGEST_HELD = 256;

function plainStyle() {
  return { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
}

export class AnsiText {
  constructor() {
    this.style = plainStyle();
    this.held = "";
  }

  /**
   * The next piece of output → [{text, className}]. An escape sequence cut in two by the end
   * of a piece is held until the next one (or until ``last`` is true).
   */
  feed(chunk, last = false) {
    let text = this.held + chunk;
    this.held = "";
    if (!last) {
      const cut = incompleteTail(text);
      this.held = text.slice(cut);
      text = text.slice(0, cut);
    }
    const segments = [];
    let from = 0;
    for (const match of text.matchAll(SEQUENCE)) {
      this.push(segments, text.slice(from, match.index));
      if (match[2] === "m" && !match[1].startsWith("?")) {
        this.apply(match[1]);
      }
      from = match.index + match[0].length;
    }
    this.push(segments, text.slice(from));
    return segments;
  }

  push(segments, raw) {
    const text = raw.replace(CONTROL, "");
    if (text !== "") {
      segments.push({ text, className: classesOf(this.style) });
    }
  }

  apply(parameters) {
    const codes = parameters === "" ? [0] : parameters.split(";").map((p) => Number(p) || 0);
    for (let i = 0; i < codes.length; i += 1) {
      i += this.applyOne(codes, i);
    }
  }

  /** Applies codes[i]; returns how many following codes it consumed. */
  applyOne(codes, i) {
    const code = codes[i];
    if (code === 38 || code === 48) {
      return this.extendedColour(codes, i, code === 38 ? "fg" : "bg");
    }
    const simple = SIMPLE[code];
    if (simple !== undefined) {
      Object.assign(this.style, simple);
    } else if (code >= 30 && code <= 37) {
      this.style.fg = code - 30;
    } else if (code >= 90 && code <= 97) {
      this.style.fg = code - 90 + 8;
    } else if (code >= 40 && code <= 47) {
      this.style.bg = code - 40;
    } else if (code >= 100 && code <= 107) {
      this.style.bg = code - 100 + 8;
    }
    return 0;
  }

  /** 38;5;n / 48;5;n (the 16 basic colours of the 256 are kept) and 38;2;r;g;b (skipped). */
  extendedColour(codes, i, which) {
    if (codes[i + 1] === 5) {
      const index = codes[i + 2];
      if (index !== undefined && index < 16) {
        this.style[which] = index;
      }
      return 2;
    }
    return codes[i + 1] === 2 ? 4 : 0;
  }
}

const SIMPLE = {
  0: plainStyle(),
  1: { bold: true },
  2: { dim: true },
  3: { italic: true },
  4: { underline: true },
  22: { bold: false, dim: false },
  23: { italic: false },
  24: { underline: false },
  39: { fg: null },
  49: { bg: null },
};

function classesOf(style) {
  const names = [];
  if (style.fg !== null) names.push(`ansi-fg-${style.fg}`);
  if (style.bg !== null) names.push(`ansi-bg-${style.bg}`);
  if (style.bold) names.push("ansi-bold");
  if (style.dim) names.push("ansi-dim");
  if (style.italic) names.push("ansi-italic");
  if (style.underline) names.push("ansi-underline");
  return names.join(" ");
}

/** Where a trailing, not yet complete escape sequence starts (text.length if none). */
function incompleteTail(text) {
  const at = text.lastIndexOf("\x1b");
  if (at === -1 || text.length - at > LONGEST_HELD) {
    return text.length;
  }
  STARTS_COMPLETE.lastIndex = at;
  return STARTS_COMPLETE.test(text) ? text.length : at;
}
