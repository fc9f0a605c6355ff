// The dashboard's host rows, windowed: rows live in chunks of CHUNK, each chunk its own
// render() container created by hand inside an element that has no lit bindings. A
// chunk is painted when it comes near the viewport (IntersectionObserver); the chunks on
// screen (every chunk of a list up to ALL_AT_ONCE rows) are painted at once and the first
// FILL in idle time afterwards. Until then a chunk is an empty box of the right height
// (rows are a fixed ROW_PX). So 10,000 hosts cost the rows on screen, not 10,000
// templates, and a filter or sort change repaints only what is seen. Chunks that went
// stale off screen are emptied, never left showing old rows.
import { render, nothing } from '../html.js';

export const CHUNK = 50;
const ROW_PX = 33;
const FIRST = 1; // painted synchronously: what a screen shows (50 rows > 1,600 px)
const FILL = 20; // painted in idle time: fleets up to 1,000 end up fully in the DOM
const ALL_AT_ONCE = 300; // up to this many rows, all are painted at once (~40 ms)

export function createHostList(box, rowFn) {
  let list = [];
  const chunks = []; // { el, painted, stale }
  let fillTimer = 0;
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) paint(Number(e.target.dataset.chunk));
  }, { rootMargin: '800px 0px' });

  const rowsOf = (i) => list.slice(i * CHUNK, (i + 1) * CHUNK);
  function paint(i) {
    const c = chunks[i];
    if (!c || c.painted) return;
    c.painted = true;
    c.stale = false;
    c.el.style.height = '';
    render(rowsOf(i).map(rowFn), c.el);
  }
  function shape(i) {
    const c = chunks[i];
    const n = rowsOf(i).length;
    c.el.style.containIntrinsicSize = `auto ${n * ROW_PX}px`;
    if (!c.painted) c.el.style.height = `${n * ROW_PX}px`;
  }
  function resize(count) {
    while (chunks.length < count) {
      const el = document.createElement('div');
      el.className = 'hchunk';
      el.setAttribute('role', 'rowgroup');
      el.dataset.chunk = String(chunks.length);
      box.appendChild(el);
      io.observe(el);
      chunks.push({ el, painted: false, stale: false });
    }
    while (chunks.length > count) {
      const c = chunks.pop();
      io.unobserve(c.el);
      render(nothing, c.el);
      c.el.remove();
    }
  }
  // idle time only: painting ahead never delays a frame the user is waiting for
  const idle = window.requestIdleCallback ? (fn) => requestIdleCallback(fn, { timeout: 2000 }) : (fn) => setTimeout(() => fn({ timeRemaining: () => 10 }), 50);
  const unidle = (id) => (window.cancelIdleCallback ? cancelIdleCallback(id) : clearTimeout(id));
  const fill = (deadline) => {
    fillTimer = 0;
    for (let n = 0; ; n++) { // at least one chunk per call, more while the browser is idle
      const next = chunks.slice(0, FILL).findIndex((c) => !c.painted);
      if (next < 0) return;
      if (n && deadline.timeRemaining() < 6) break;
      paint(next);
    }
    fillTimer = idle(fill);
  };

  return {
    // A new order: visible chunks repaint now, the others are emptied and wait.
    set(newList) {
      list = newList;
      resize(Math.ceil(list.length / CHUNK));
      for (let i = 0; i < chunks.length; i++) shape(i); // writes first, then one layout
      const rects = chunks.map((c) => c.el.getBoundingClientRect());
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i];
        const near = i < FIRST || list.length <= ALL_AT_ONCE || (rects[i].bottom > 0 && rects[i].top < innerHeight);
        if (c.painted && !near) {
          render(nothing, c.el);
          c.painted = false;
          shape(i);
        }
        if (near) {
          c.painted = false;
          paint(i);
        }
      }
      unidle(fillTimer);
      fillTimer = idle(fill);
    },
    // list[i] changed in place (same position): repaint its chunk if it is shown.
    replace(i, h) {
      list[i] = h;
      const c = chunks[Math.floor(i / CHUNK)];
      if (c) c.stale = true;
    },
    flush() {
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i];
        if (!c.stale) continue;
        c.stale = false;
        if (c.painted) render(rowsOf(i).map(rowFn), c.el);
      }
    },
    destroy() {
      unidle(fillTimer);
      io.disconnect();
    },
  };
}
