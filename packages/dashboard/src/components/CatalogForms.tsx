import { useState, type FormEvent, type ReactNode } from "react";
import { newIdempotencyKey } from "../api.ts";
import { useSession } from "../session.tsx";
import { ErrorNote, Field } from "./ui.tsx";

/**
 * Creating products, plans and add-ons (the commerce API). Each form sends one request with its
 * own idempotency key, so a double submit creates one record. After a create the form is emptied,
 * so pressing the button again cannot make a copy of the record just created.
 */

function CreateForm(props: { summary: string; path: string; body(): unknown; onCreated(name: string): void; reset(): void; name: string; children: ReactNode }) {
  const { call } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [key, setKey] = useState(() => newIdempotencyKey("catalog"));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await call("POST", props.path, { body: props.body(), idempotencyKey: key });
      setKey(newIdempotencyKey("catalog"));
      props.onCreated(props.name);
      props.reset();
    } catch (err) {
      // A changed form after a failure is a new request: a new key avoids IDEMPOTENCY_KEY_REUSED.
      setKey(newIdempotencyKey("catalog"));
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details className="create">
      <summary>{props.summary}</summary>
      <form onSubmit={(e) => void submit(e)} className="stack subform">
        <div className="row wrap">{props.children}</div>
        {error !== undefined && <ErrorNote error={error} />}
        <div>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Creating…" : props.summary}
          </button>
        </div>
      </form>
    </details>
  );
}

const CURRENCY = "[a-zA-Z]{3}";

export function ProductForm(props: { onCreated(name: string): void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const reset = () => {
    setName("");
    setDescription("");
  };
  return (
    <CreateForm summary="New product" path="/v1/products" name={name} onCreated={props.onCreated} reset={reset} body={() => ({ name: name.trim(), ...(description.trim() !== "" ? { description: description.trim() } : {}) })}>
      <Field label="Name">{(id) => <input id={id} required maxLength={255} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
      <Field label="Description (optional)">{(id) => <input id={id} maxLength={1000} value={description} onChange={(e) => setDescription(e.target.value)} />}</Field>
    </CreateForm>
  );
}

export function PlanForm(props: { onCreated(name: string): void }) {
  const [name, setName] = useState("");
  const [productId, setProductId] = useState("");
  const [price, setPrice] = useState("");
  const [currency, setCurrency] = useState("usd");
  const [interval, setBilling] = useState<"month" | "year" | "one_time">("month");
  const [trialDays, setTrialDays] = useState("");
  const [credits, setCredits] = useState("");
  const [unit, setUnit] = useState("credits");
  const [rollover, setRollover] = useState(false);
  const [features, setFeatures] = useState("");
  const body = () => ({
    name: name.trim(),
    ...(productId.trim() !== "" ? { productId: productId.trim() } : {}),
    priceAmount: Math.floor(Number(price)),
    currency: currency.trim().toLowerCase(),
    interval,
    ...(trialDays !== "" ? { trialDays: Math.floor(Number(trialDays)) } : {}),
    credits: credits === "" ? [] : [{ unit: unit.trim(), amount: Math.floor(Number(credits)), rollover }],
    features: features
      .split(",")
      .map((f) => f.trim())
      .filter((f) => f !== ""),
  });
  const reset = () => {
    setName("");
    setProductId("");
    setPrice("");
    setCurrency("usd");
    setBilling("month");
    setTrialDays("");
    setCredits("");
    setUnit("credits");
    setRollover(false);
    setFeatures("");
  };
  return (
    <CreateForm summary="New plan" path="/v1/plans" name={name} onCreated={props.onCreated} reset={reset} body={body}>
      <Field label="Name">{(id) => <input id={id} required maxLength={255} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
      <Field label="Product id (optional)">{(id) => <input id={id} value={productId} onChange={(e) => setProductId(e.target.value)} placeholder="prd_…" />}</Field>
      <Field label="Price" hint="In the currency's smallest unit (cents).">
        {(id, hint) => <input id={id} type="number" required min={0} step={1} value={price} onChange={(e) => setPrice(e.target.value)} aria-describedby={hint} />}
      </Field>
      <Field label="Currency">{(id) => <input id={id} required pattern={CURRENCY} size={4} value={currency} onChange={(e) => setCurrency(e.target.value)} />}</Field>
      <Field label="Interval">
        {(id) => (
          <select id={id} value={interval} onChange={(e) => setBilling(e.target.value as "month" | "year" | "one_time")}>
            <option value="month">monthly</option>
            <option value="year">yearly</option>
            <option value="one_time">one time</option>
          </select>
        )}
      </Field>
      <Field label="Trial days (optional)">{(id) => <input id={id} type="number" min={0} max={730} step={1} value={trialDays} onChange={(e) => setTrialDays(e.target.value)} />}</Field>
      <Field label="Credits per period (optional)">{(id) => <input id={id} type="number" min={1} step={1} value={credits} onChange={(e) => setCredits(e.target.value)} />}</Field>
      <Field label="Credit unit">{(id) => <input id={id} required pattern="[a-z][a-z0-9_.\-]{0,63}" size={10} value={unit} onChange={(e) => setUnit(e.target.value)} />}</Field>
      <label className="check">
        <input type="checkbox" checked={rollover} onChange={(e) => setRollover(e.target.checked)} /> Unused credits roll over
      </label>
      <Field label="Features (comma-separated)">{(id) => <input id={id} value={features} onChange={(e) => setFeatures(e.target.value)} placeholder="chat, images" />}</Field>
    </CreateForm>
  );
}

export function AddonForm(props: { onCreated(name: string): void }) {
  const [name, setName] = useState("");
  const [productId, setProductId] = useState("");
  const [unit, setUnit] = useState("credits");
  const [qty, setQty] = useState("");
  const [price, setPrice] = useState("");
  const [currency, setCurrency] = useState("usd");
  const [expires, setExpires] = useState("");
  const body = () => ({
    name: name.trim(),
    ...(productId.trim() !== "" ? { productId: productId.trim() } : {}),
    unit: unit.trim(),
    creditQty: Math.floor(Number(qty)),
    priceAmount: Math.floor(Number(price)),
    currency: currency.trim().toLowerCase(),
    ...(expires !== "" ? { expiresInDays: Math.floor(Number(expires)) } : {}),
  });
  const reset = () => {
    setName("");
    setProductId("");
    setUnit("credits");
    setQty("");
    setPrice("");
    setCurrency("usd");
    setExpires("");
  };
  return (
    <CreateForm summary="New add-on" path="/v1/addons" name={name} onCreated={props.onCreated} reset={reset} body={body}>
      <Field label="Name">{(id) => <input id={id} required maxLength={255} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
      <Field label="Product id (optional)">{(id) => <input id={id} value={productId} onChange={(e) => setProductId(e.target.value)} placeholder="prd_…" />}</Field>
      <Field label="Credits">{(id) => <input id={id} type="number" required min={1} step={1} value={qty} onChange={(e) => setQty(e.target.value)} />}</Field>
      <Field label="Credit unit">{(id) => <input id={id} required pattern="[a-z][a-z0-9_.\-]{0,63}" size={10} value={unit} onChange={(e) => setUnit(e.target.value)} />}</Field>
      <Field label="Price" hint="Smallest currency unit; 0 makes it free (granted at once).">
        {(id, hint) => <input id={id} type="number" required min={0} step={1} value={price} onChange={(e) => setPrice(e.target.value)} aria-describedby={hint} />}
      </Field>
      <Field label="Currency">{(id) => <input id={id} required pattern={CURRENCY} size={4} value={currency} onChange={(e) => setCurrency(e.target.value)} />}</Field>
      <Field label="Expires after days (optional)">{(id) => <input id={id} type="number" min={1} max={3650} step={1} value={expires} onChange={(e) => setExpires(e.target.value)} />}</Field>
    </CreateForm>
  );
}
