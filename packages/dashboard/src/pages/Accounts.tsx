import { useEffect, useState } from "react";
import type { Account } from "../api.ts";
import { usePaged } from "../session.tsx";
import { Link } from "../router.tsx";
import { Empty, ErrorNote, Loading, PageHeader, Pager, Table } from "../components/ui.tsx";
import { when } from "../format.ts";

/** Search runs on the server (`GET /v1/accounts?search=`): id, or a prefix of external id, email or name. */
/** The server refuses longer search terms with a 400. */
const SEARCH_MAX = 255;

export function Accounts() {
  const initial = (new URLSearchParams(window.location.search).get("q") ?? "").slice(0, SEARCH_MAX);
  const [input, setInput] = useState(initial);
  const [search, setSearch] = useState(initial);

  // Debounced so typing does not send a request per keystroke.
  useEffect(() => {
    const t = setTimeout(() => setSearch(input.trim()), 250);
    return () => clearTimeout(t);
  }, [input]);

  // The search term is in the address (not a secret), so a search can be shared or reloaded.
  useEffect(() => {
    const url = new URL(window.location.href);
    if (search === "") url.searchParams.delete("q");
    else url.searchParams.set("q", search);
    window.history.replaceState(null, "", url);
  }, [search]);

  const accounts = usePaged<Account>("/v1/accounts", { search: search === "" ? undefined : search });

  return (
    <>
      <PageHeader title="Accounts" subtitle="Newest first. Search by account id, external id, email or name." />
      <form
        role="search"
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          setSearch(input.trim());
        }}
      >
        <div className="field grow">
          <label htmlFor="account-search">Search accounts</label>
          <input id="account-search" type="search" value={input} maxLength={SEARCH_MAX} onChange={(e) => setInput(e.target.value.slice(0, SEARCH_MAX))} placeholder="acct_…, user_123, alice@example.com" autoComplete="off" />
        </div>
        <button type="submit">Search</button>
      </form>

      {accounts.error !== undefined && <ErrorNote error={accounts.error} />}
      {accounts.data === undefined && accounts.loading ? (
        <Loading />
      ) : accounts.data !== undefined && accounts.data.items.length === 0 ? (
        <Empty>{search === "" ? "No accounts yet. Granting credits to an external id creates its account." : `No account matches “${search}”.`}</Empty>
      ) : accounts.data !== undefined ? (
        <>
          <Table
            caption="Accounts"
            busy={accounts.loading}
            head={
              <tr>
                <th scope="col">Account</th>
                <th scope="col">External id</th>
                <th scope="col">Email</th>
                <th scope="col">Created</th>
              </tr>
            }
          >
            {accounts.data.items.map((a) => (
              <tr key={a.id}>
                <td>
                  <Link to={`/accounts/${encodeURIComponent(a.id)}`}>{a.name ?? a.id}</Link>
                  {a.name !== null && (
                    <div className="muted small">
                      <code>{a.id}</code>
                    </div>
                  )}
                </td>
                <td>{a.externalId ?? "—"}</td>
                <td>{a.email ?? "—"}</td>
                <td>{when(a.createdAt)}</td>
              </tr>
            ))}
          </Table>
          <Pager paged={accounts} label="Accounts" />
        </>
      ) : null}
    </>
  );
}
