// Navigation entry point shared by pages (main.js installs the implementation).
let impl = (to) => { location.href = to; };
export function setNavigator(fn) { impl = fn; }
export const navigate = (to, opts) => impl(to, opts);
export const currentPath = () => location.pathname + location.search;
export function safeNext(n) {
  if (!n || !n.startsWith('/') || n.startsWith('//') || n.startsWith('/\\')) return '/';
  if (n.startsWith('/login') || n.startsWith('/bootstrap')) return '/';
  return n;
}
