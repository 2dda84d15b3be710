import { useState, type FormEvent } from "react";
import { newIdempotencyKey, type Price } from "../api.ts";
import { usePaged, useSession } from "../session.tsx";
import { Empty, ErrorNote, Field, Loading, PageHeader, Pager, Section, Table, useFlash } from "../components/ui.tsx";
import { CommerceList, money, str } from "../components/CommerceList.tsx";
import { AddonForm, PlanForm, ProductForm } from "../components/CatalogForms.tsx";
import { amount, when } from "../format.ts";

/** Prices (core) and the commerce catalog (products, plans, add-ons) when this server has it. */
export function Catalog() {
  const prices = usePaged<Price>("/v1/prices");
  const [flash, say] = useFlash();
  const [editing, setEditing] = useState<Price | null>(null);
  const { has } = useSession();
  // Bumped after a create so the list re-reads from its first page.
  const [version, setVersion] = useState(0);
  const created = (what: string) => (name: string) => {
    say(`Created ${what} ${name}.`);
    setVersion((v) => v + 1);
  };

  return (
    <>
      <PageHeader title="Catalog & prices" subtitle="What operations and model tokens cost, and what customers can buy." />
      {flash}
      <Section title="Prices">
        {prices.error !== undefined ? (
          <ErrorNote error={prices.error} />
        ) : prices.data === undefined ? (
          <Loading />
        ) : prices.data.items.length === 0 ? (
          <Empty>No prices yet. A deduct with an `operation` and no amount uses the operation's price.</Empty>
        ) : (
          <>
            <Table
              caption="Prices by key"
              busy={prices.loading}
              head={
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Kind</th>
                  <th scope="col" className="num">Price</th>
                  <th scope="col">Unit</th>
                  <th scope="col">Updated</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              }
            >
              {prices.data.items.map((p) => (
                <tr key={p.key}>
                  <td>
                    <code>{p.key}</code>
                  </td>
                  <td>{p.modelId !== null ? `model ${p.modelId}` : "operation"}</td>
                  <td className="num">
                    {p.modelId !== null
                      ? `${amount(p.inputPerMillion)} in / ${amount(p.outputPerMillion)} out per 1M tokens${p.perRequest ? ` + ${amount(p.perRequest)} per request` : ""}`
                      : amount(p.amount)}
                  </td>
                  <td>{p.unit}</td>
                  <td>{when(p.updatedAt)}</td>
                  <td>
                    <button type="button" className="small" onClick={() => setEditing(p)} aria-label={`Edit price ${p.key}`}>
                      Edit
                    </button>
                  </td>
                </tr>
              ))}
            </Table>
            <Pager paged={prices} label="Prices" />
          </>
        )}
        <PriceForm
          key={editing?.key ?? "new"}
          initial={editing}
          onSaved={(key) => {
            say(`Saved price ${key}.`);
            setEditing(null);
            prices.reload();
          }}
          onCancel={editing !== null ? () => setEditing(null) : undefined}
        />
      </Section>

      <Section title="Products">
        {has("POST", "/v1/products") && <ProductForm onCreated={created("product")} />}
        <CommerceList
          key={`products-${version}`}
          path="/v1/products"
          query={{}}
          what="Products"
          columns={[
            { label: "Product", value: (r) => <code>{r.id}</code> },
            { label: "Name", value: (r) => str(r.name) },
            { label: "Description", value: (r) => str(r["description"]) },
            { label: "Created", value: (r) => when(r.createdAt) },
          ]}
        />
      </Section>
      <Section title="Plans">
        {has("POST", "/v1/plans") && <PlanForm onCreated={created("plan")} />}
        <CommerceList
          key={`plans-${version}`}
          path="/v1/plans"
          query={{}}
          what="Plans"
          columns={[
            { label: "Plan", value: (r) => <code>{r.id}</code> },
            { label: "Name", value: (r) => str(r.name) },
            { label: "Price", value: (r) => (typeof r["priceAmount"] === "number" ? `${amount(r["priceAmount"])} ${str(r["currency"]).toUpperCase()} / ${str(r["interval"])}` : "—"), num: true },
            {
              label: "Credits per period",
              value: (r) =>
                Array.isArray(r["credits"])
                  ? (r["credits"] as Array<{ unit?: string; amount?: number }>).map((c) => `${amount(c.amount)} ${c.unit ?? ""}`).join(", ") || "—"
                  : "—",
            },
            { label: "Features", value: (r) => (Array.isArray(r["features"]) ? (r["features"] as string[]).join(", ") || "—" : "—") },
            { label: "Trial", value: (r) => (typeof r["trialDays"] === "number" ? `${r["trialDays"]} days` : "—") },
          ]}
        />
      </Section>
      <Section title="Add-ons">
        {has("POST", "/v1/addons") && <AddonForm onCreated={created("add-on")} />}
        <CommerceList
          key={`addons-${version}`}
          path="/v1/addons"
          query={{}}
          what="Add-ons"
          columns={[
            { label: "Add-on", value: (r) => <code>{r.id}</code> },
            { label: "Name", value: (r) => str(r.name) },
            { label: "Credits", value: (r) => `${amount(r["creditQty"] as number | undefined)} ${str(r["unit"])}`, num: true },
            { label: "Price", value: (r) => money({ ...r, amount: r["priceAmount"] }), num: true },
            { label: "Expires after", value: (r) => (typeof r["expiresInDays"] === "number" ? `${r["expiresInDays"]} days` : "never") },
          ]}
        />
      </Section>
    </>
  );
}

function PriceForm(props: { initial: Price | null; onSaved(key: string): void; onCancel: (() => void) | undefined }) {
  const { call } = useSession();
  const i = props.initial;
  const [key, setKey] = useState(i?.key ?? "");
  const [kind, setKind] = useState<"operation" | "model">(i?.modelId != null ? "model" : "operation");
  const [unit, setUnit] = useState(i?.unit ?? "credits");
  const [price, setPrice] = useState(i?.amount != null ? String(i.amount) : "");
  const [modelId, setModelId] = useState(i?.modelId ?? "");
  const [inPerM, setInPerM] = useState(i?.inputPerMillion != null ? String(i.inputPerMillion) : "");
  const [outPerM, setOutPerM] = useState(i?.outputPerMillion != null ? String(i.outputPerMillion) : "");
  const [perRequest, setPerRequest] = useState(i?.perRequest != null ? String(i.perRequest) : "");
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const body =
      kind === "operation"
        ? { unit, amount: Number(price) }
        : { unit, modelId: modelId.trim(), inputPerMillion: Number(inPerM), outputPerMillion: Number(outPerM), ...(perRequest !== "" ? { perRequest: Number(perRequest) } : {}) };
    try {
      await call("PUT", `/v1/prices/${encodeURIComponent(key.trim())}`, { body, idempotencyKey: newIdempotencyKey("price") });
      props.onSaved(key.trim());
      // A new price starts from an empty form again, so a second click cannot save a copy.
      if (props.initial === null) {
        setKey("");
        setPrice("");
        setModelId("");
        setInPerM("");
        setOutPerM("");
        setPerRequest("");
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void save(e)} className="stack subform" aria-label={i === null ? "Set a price" : `Edit price ${i.key}`}>
      <h3>{i === null ? "Set a price" : `Edit ${i.key}`}</h3>
      <div className="row wrap">
        <Field label="Key" hint="An operation such as app.chat.reply, or a name for a model price.">
          {(id, hint) => <input id={id} required pattern="[A-Za-z0-9_.:\/\-]+" maxLength={255} value={key} onChange={(e) => setKey(e.target.value)} readOnly={i !== null} aria-describedby={hint} />}
        </Field>
        <Field label="Kind">
          {(id) => (
            <select id={id} value={kind} onChange={(e) => setKind(e.target.value as "operation" | "model")}>
              <option value="operation">Operation (fixed amount)</option>
              <option value="model">Model (per token)</option>
            </select>
          )}
        </Field>
        <Field label="Unit">{(id) => <input id={id} required pattern="[a-z][a-z0-9_.\-]{0,63}" value={unit} onChange={(e) => setUnit(e.target.value)} size={10} />}</Field>
        {kind === "operation" ? (
          <Field label="Amount">{(id) => <input id={id} type="number" required min={1} step={1} value={price} onChange={(e) => setPrice(e.target.value)} />}</Field>
        ) : (
          <>
            <Field label="Model id">{(id) => <input id={id} required maxLength={255} value={modelId} onChange={(e) => setModelId(e.target.value)} />}</Field>
            <Field label="Input per 1M tokens">{(id) => <input id={id} type="number" required min={0} step={1} value={inPerM} onChange={(e) => setInPerM(e.target.value)} />}</Field>
            <Field label="Output per 1M tokens">{(id) => <input id={id} type="number" required min={0} step={1} value={outPerM} onChange={(e) => setOutPerM(e.target.value)} />}</Field>
            <Field label="Per request (optional)">{(id) => <input id={id} type="number" min={0} step={1} value={perRequest} onChange={(e) => setPerRequest(e.target.value)} />}</Field>
          </>
        )}
      </div>
      {error !== undefined && <ErrorNote error={error} />}
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Saving…" : "Save price"}
        </button>
        {props.onCancel !== undefined && (
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
