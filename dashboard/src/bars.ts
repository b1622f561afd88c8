// Charts in plain HTML and CSS, no library: horizontal bars (a row per item, a bar per series)
// and stacked columns over time. They are pictures only (aria-hidden): each chart has a table
// with the same numbers beside it, which is what screen readers and keyboards use. Sizes are
// logical (inline-size, block-size), so a right-to-left page mirrors them.
import { h } from "./dom";

export interface Series {
  label: string;
  /** A colour with at least 3:1 against the page (WCAG's rule for graphics). */
  color: string;
}

export interface BarRow {
  /** The row's name; text people typed goes in as a `dir="auto"` element. */
  label: Node | string;
  /** One per series; null draws nothing (e.g. no stay has ended yet). */
  values: (number | null)[];
  /** The values as written beside the bars. */
  texts: string[];
}

export interface Column {
  /** The bucket's name, in the column's tooltip. */
  label: string;
  /** Written under the column (empty: none, so the labels do not crowd). */
  tick: string;
  /** One count per series, stacked from the bottom. */
  parts: number[];
}

const swatch = (color: string): HTMLElement => {
  const s = h("span", { class: "swatch" });
  s.style.setProperty("background-color", color);
  return s;
};

export function legend(series: Series[]): HTMLElement {
  return h("ul", { class: "legend" }, ...series.map((s) => h("li", {}, swatch(s.color), s.label)));
}

const percent = (value: number, top: number): string =>
  `${value > 0 && top > 0 ? Math.max((value / top) * 100, 0.5) : 0}%`;

/** Horizontal bars scaled to `max` (by default the largest value shown). */
export function hbars(series: Series[], rows: BarRow[], max?: number): HTMLElement {
  const top = max ?? Math.max(0, ...rows.flatMap((r) => r.values.map((v) => v ?? 0)));
  return h(
    "div",
    { class: "chart", "aria-hidden": "true" },
    series.length > 1 && legend(series),
    ...rows.map((r) =>
      h(
        "div",
        { class: "hbar-row" },
        h("span", { class: "hbar-label" }, r.label),
        h(
          "div",
          { class: "hbar-set" },
          ...series.map((s, i) => {
            const bar = h("span", { class: "hbar" });
            bar.style.setProperty("inline-size", percent(r.values[i] ?? 0, top));
            bar.style.setProperty("background-color", s.color);
            return h(
              "div",
              { class: "hbar-line" },
              h("span", { class: "hbar-track" }, bar),
              h("span", { class: "hbar-value" }, r.texts[i] ?? ""),
            );
          }),
        ),
      ),
    ),
  );
}

/** Columns of stacked counts, one per bucket, scaled to the fullest one. */
export function columns(series: Series[], cols: Column[]): HTMLElement {
  const sum = (c: Column) => c.parts.reduce((a, b) => a + b, 0);
  const top = Math.max(1, ...cols.map(sum));
  const area = h("div", { class: "col-area" });
  const ticks = h("div", { class: "col-ticks" });
  for (const c of cols) {
    const stack = h("div", { class: "col-stack" });
    stack.style.setProperty("block-size", percent(sum(c), top));
    c.parts.forEach((n, i) => {
      if (n <= 0) return;
      const seg = h("span", { class: "col-seg" });
      seg.style.setProperty("flex-grow", String(n));
      seg.style.setProperty("background-color", series[i].color);
      stack.append(seg);
    });
    area.append(h("div", { class: "col", title: `${c.label}: ${sum(c)}` }, stack));
    ticks.append(h("span", {}, c.tick));
  }
  return h("div", { class: "chart", "aria-hidden": "true" }, legend(series), area, ticks);
}
