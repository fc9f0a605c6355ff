// The one door to lit-html. Pages and components import from here, never from 'lit-html'
// itself, so the lit features in use stay few and reviewable (docs/internals/web.md).
//
//   html`<p title=${t}>${text}</p>`  a template; every ${} is data: it becomes a text node
//                                    or an attribute/property value, never parsed as HTML
//   render(template, container)      first call builds the DOM, later calls with the same
//                                    template only update the bindings that changed
//   nothing                          renders no text / removes the attribute
//   keyed(key, template)             throw the DOM away and build it anew when key changes
//
// unsafeHTML/unsafeSVG are deliberately not exported; web/build.mjs refuses them (and any
// innerHTML/outerHTML/insertAdjacentHTML/document.write) anywhere under web/src.
export { html, svg, render, nothing } from 'lit-html';
export { keyed } from 'lit-html/directives/keyed.js';
