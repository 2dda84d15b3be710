import { useId, useRef, type KeyboardEvent, type ReactNode } from "react";

/** WAI-ARIA tabs: arrow keys, Home and End move between tabs; only the active panel is rendered. */
export function Tabs<K extends string>(props: { label: string; tabs: Array<{ key: K; label: string }>; active: K; onChange(key: K): void; children: ReactNode }) {
  const base = useId();
  const refs = useRef<Array<HTMLButtonElement | null>>([]);
  const index = props.tabs.findIndex((t) => t.key === props.active);
  const onKey = (e: KeyboardEvent) => {
    let next = index;
    if (e.key === "ArrowRight") next = (index + 1) % props.tabs.length;
    else if (e.key === "ArrowLeft") next = (index - 1 + props.tabs.length) % props.tabs.length;
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = props.tabs.length - 1;
    else return;
    e.preventDefault();
    const tab = props.tabs[next];
    if (tab !== undefined) {
      props.onChange(tab.key);
      refs.current[next]?.focus();
    }
  };
  return (
    <div className="tabs">
      <div role="tablist" aria-label={props.label} className="tablist" onKeyDown={onKey}>
        {props.tabs.map((t, i) => (
          <button
            key={t.key}
            ref={(el) => {
              refs.current[i] = el;
            }}
            type="button"
            role="tab"
            id={`${base}-tab-${t.key}`}
            aria-selected={t.key === props.active}
            aria-controls={`${base}-panel`}
            tabIndex={t.key === props.active ? 0 : -1}
            onClick={() => props.onChange(t.key)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${base}-panel`} aria-labelledby={`${base}-tab-${props.active}`} className="tabpanel">
        {props.children}
      </div>
    </div>
  );
}
