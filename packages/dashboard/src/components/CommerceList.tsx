import type { ReactNode } from "react";
import type { CommerceRecord } from "../api.ts";
import { usePaged, useSession } from "../session.tsx";
import { Badge, Empty, ErrorNote, Loading, Pager, statusTone, Table, Unavailable } from "./ui.tsx";
import { amount } from "../format.ts";

/** Commerce lists (subscriptions, orders, invoices) come from the commerce API when this server has it. */
export function CommerceList(props: { path: string; query: Record<string, string>; what: string; columns: Array<{ label: string; value(r: CommerceRecord): ReactNode; num?: boolean }> }) {
  const { has, capabilitiesKnown } = useSession();
  const available = has("GET", props.path.replace(/acct_[^/]+/, "{accountId}"));
  const page = usePaged<CommerceRecord>(capabilitiesKnown && available ? props.path : null, props.query);
  if (!capabilitiesKnown) return <Loading />;
  if (!available) return <Unavailable what={props.what} />;
  if (page.error !== undefined) return <ErrorNote error={page.error} what={props.what} />;
  if (page.data === undefined) return <Loading />;
  if (page.data.items.length === 0) return <Empty>No {props.what.toLowerCase()}.</Empty>;
  return (
    <>
      <Table
        caption={props.what}
        busy={page.loading}
        head={
          <tr>
            {props.columns.map((c) => (
              <th scope="col" key={c.label} className={c.num === true ? "num" : undefined}>
                {c.label}
              </th>
            ))}
          </tr>
        }
      >
        {page.data.items.map((r) => (
          <tr key={r.id}>
            {props.columns.map((c) => (
              <td key={c.label} className={c.num === true ? "num" : undefined}>
                {c.value(r)}
              </td>
            ))}
          </tr>
        ))}
      </Table>
      <Pager paged={page} label={props.what} />
    </>
  );
}

export const str = (v: unknown): string => (v === null || v === undefined ? "—" : String(v));
export const status = (r: CommerceRecord) => (typeof r.status === "string" ? <Badge tone={statusTone(r.status)}>{r.status}</Badge> : "—");
export const money = (r: CommerceRecord) => (typeof r["amount"] === "number" ? `${amount(r["amount"])} ${str(r["currency"]).toUpperCase()}` : "—");

