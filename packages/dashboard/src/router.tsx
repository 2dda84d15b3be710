import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from "react";

/** Every page lives under this prefix; the server answers index.html for any path below it. */
export const BASE = "/dashboard";

function current(): string {
  const p = window.location.pathname;
  const rest = p.startsWith(BASE) ? p.slice(BASE.length) : p;
  return rest === "" ? "/" : rest;
}

const listeners = new Set<() => void>();

export function navigate(to: string): void {
  window.history.pushState(null, "", BASE + (to === "/" ? "/" : to));
  for (const l of listeners) l();
}

/** The path below /dashboard, e.g. `/accounts/acct_…`; re-renders on navigation and Back. */
export function usePath(): string {
  const [path, setPath] = useState(current);
  useEffect(() => {
    const update = () => setPath(current());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return path;
}

/** A real link (middle-click, copy address work) that navigates in place on a plain click. */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const { to, onClick, ...rest } = props;
  const onClickLink = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={BASE + to} onClick={onClickLink} {...rest} />;
}
