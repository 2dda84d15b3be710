import { useEffect, useState, type FormEvent } from "react";
import { newIdempotencyKey, type App } from "../api.ts";
import { useGet, useSession } from "../session.tsx";
import { ConfirmDialog, ErrorNote, Field, Loading, PageHeader, Section, useFlash } from "../components/ui.tsx";
import { when } from "../format.ts";

type Algorithm = "HS256" | "RS256" | "ES256";

/** The application's name and how end users' tokens (JWT) are verified for `/v1/me`. */
export function Settings() {
  const { call, session, setSession } = useSession();
  const app = useGet<App>("/v1/app");
  const [flash, say] = useFlash();
  const [name, setName] = useState("");
  const [nameError, setNameError] = useState<unknown>(undefined);

  const [algorithm, setAlgorithm] = useState<Algorithm>("HS256");
  const [material, setMaterial] = useState<"secret" | "publicKey" | "jwksUrl">("secret");
  const [secret, setSecret] = useState("");
  const [publicKey, setPublicKey] = useState("");
  const [jwksUrl, setJwksUrl] = useState("");
  const [subjectClaim, setSubjectClaim] = useState("sub");
  const [issuer, setIssuer] = useState("");
  const [audience, setAudience] = useState("");
  const [authError, setAuthError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [disabling, setDisabling] = useState(false);

  useEffect(() => {
    const a = app.data;
    if (a === undefined) return;
    setName(a.name);
    if (a.endUserAuth !== null) {
      setAlgorithm(a.endUserAuth.algorithm);
      setSubjectClaim(a.endUserAuth.subjectClaim);
      setIssuer(a.endUserAuth.issuer ?? "");
      setAudience(a.endUserAuth.audience ?? "");
      setJwksUrl(a.endUserAuth.jwksUrl ?? "");
      setMaterial(a.endUserAuth.algorithm === "HS256" ? "secret" : a.endUserAuth.jwksUrl !== undefined ? "jwksUrl" : "publicKey");
    }
  }, [app.data]);

  useEffect(() => {
    if (algorithm === "HS256") setMaterial("secret");
    else if (material === "secret") setMaterial("jwksUrl");
  }, [algorithm, material]);

  /** The form as for an application without end-user auth: what is shown once it is turned off. */
  const resetAuthForm = () => {
    setAlgorithm("HS256");
    setMaterial("secret");
    setSecret("");
    setPublicKey("");
    setJwksUrl("");
    setSubjectClaim("sub");
    setIssuer("");
    setAudience("");
    setAuthError(undefined);
  };

  const rename = async (e: FormEvent) => {
    e.preventDefault();
    setNameError(undefined);
    try {
      const updated = await call<App>("PATCH", "/v1/app", { body: { name: name.trim() }, idempotencyKey: newIdempotencyKey("rename") });
      if (session.appId === updated.id) setSession({ ...session, appName: updated.name });
      say("Application renamed.");
      app.reload();
    } catch (err) {
      setNameError(err);
    }
  };

  const saveAuth = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setAuthError(undefined);
    const endUserAuth = {
      algorithm,
      ...(material === "secret" ? { secret } : material === "publicKey" ? { publicKey } : { jwksUrl: jwksUrl.trim() }),
      subjectClaim: subjectClaim.trim() || "sub",
      ...(issuer.trim() !== "" ? { issuer: issuer.trim() } : {}),
      ...(audience.trim() !== "" ? { audience: audience.trim() } : {}),
    };
    try {
      await call<App>("PATCH", "/v1/app", { body: { endUserAuth }, idempotencyKey: newIdempotencyKey("end-user-auth") });
      setSecret("");
      say("End-user authentication saved.");
      app.reload();
    } catch (err) {
      setAuthError(err);
    } finally {
      setBusy(false);
    }
  };

  if (app.error !== undefined) {
    return (
      <>
        <PageHeader title="Settings" />
        <ErrorNote error={app.error} />
      </>
    );
  }
  if (app.data === undefined) return <Loading />;
  const current = app.data.endUserAuth;

  return (
    <>
      <PageHeader title="Settings" subtitle={<>Application <code>{app.data.id}</code>, created {when(app.data.createdAt)}</>} />
      {flash}
      <Section title="Application">
        <form onSubmit={(e) => void rename(e)} className="row">
          <div className="field grow">
            <label htmlFor="app-name">Name</label>
            <input id="app-name" required maxLength={255} value={name} onChange={(e) => setName(e.target.value)} />
          </div>
          <button type="submit">Rename</button>
        </form>
        {nameError !== undefined && <ErrorNote error={nameError} />}
      </Section>

      <Section title="End-user authentication">
        <p className="muted">
          Lets your web or mobile client read its own balance from <code>/v1/me</code> with the user's JWT. The account is the one whose external id
          equals the token's subject claim.
        </p>
        <p data-testid="end-user-auth-status">
          {current === null ? (
            <>Currently <strong>off</strong>: end-user tokens are refused.</>
          ) : (
            <>
              Currently <strong>on</strong>: {current.algorithm}
              {current.jwksUrl !== undefined ? <> with keys from {current.jwksUrl}</> : current.hasPublicKey ? " with a public key" : " with a shared secret"}, subject claim{" "}
              <code>{current.subjectClaim}</code>
              {current.issuer !== undefined ? <>, issuer {current.issuer}</> : null}
              {current.audience !== undefined ? <>, audience {current.audience}</> : null}.
            </>
          )}
        </p>
        <form onSubmit={(e) => void saveAuth(e)} className="stack narrow-form">
          <Field label="Algorithm">
            {(id) => (
              <select id={id} value={algorithm} onChange={(e) => setAlgorithm(e.target.value as Algorithm)}>
                <option value="HS256">HS256 (shared secret)</option>
                <option value="RS256">RS256 (RSA public key or JWKS)</option>
                <option value="ES256">ES256 (EC public key or JWKS)</option>
              </select>
            )}
          </Field>
          {algorithm !== "HS256" && (
            <fieldset className="radios">
              <legend>Verify with</legend>
              <label className="check">
                <input type="radio" name="material" checked={material === "jwksUrl"} onChange={() => setMaterial("jwksUrl")} /> JWKS URL
              </label>
              <label className="check">
                <input type="radio" name="material" checked={material === "publicKey"} onChange={() => setMaterial("publicKey")} /> Public key (PEM)
              </label>
            </fieldset>
          )}
          {material === "secret" && (
            <Field label="Shared secret" hint={current?.hasSecret === true ? "A secret is set; enter it again (or a new one) to save changes. At least 16 characters." : "At least 16 characters."}>
              {(id, hint) => <input id={id} type="password" autoComplete="new-password" required minLength={16} maxLength={4096} value={secret} onChange={(e) => setSecret(e.target.value)} aria-describedby={hint} />}
            </Field>
          )}
          {material === "publicKey" && (
            <Field label="Public key" hint="-----BEGIN PUBLIC KEY----- …">
              {(id, hint) => <textarea id={id} required rows={5} value={publicKey} onChange={(e) => setPublicKey(e.target.value)} aria-describedby={hint} />}
            </Field>
          )}
          {material === "jwksUrl" && <Field label="JWKS URL">{(id) => <input id={id} type="url" required value={jwksUrl} onChange={(e) => setJwksUrl(e.target.value)} placeholder="https://example.com/.well-known/jwks.json" />}</Field>}
          <Field label="Subject claim">{(id) => <input id={id} maxLength={64} value={subjectClaim} onChange={(e) => setSubjectClaim(e.target.value)} />}</Field>
          <Field label="Issuer (optional)">{(id) => <input id={id} maxLength={512} value={issuer} onChange={(e) => setIssuer(e.target.value)} />}</Field>
          <Field label="Audience (optional)">{(id) => <input id={id} maxLength={512} value={audience} onChange={(e) => setAudience(e.target.value)} />}</Field>
          {authError !== undefined && <ErrorNote error={authError} />}
          <div className="row">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? "Saving…" : "Save end-user authentication"}
            </button>
            {current !== null && (
              <button type="button" className="danger" onClick={() => setDisabling(true)}>
                Turn off
              </button>
            )}
          </div>
        </form>
      </Section>
      <ConfirmDialog
        open={disabling}
        title="Turn off end-user authentication?"
        message="Every end-user token will be refused until it is configured again."
        confirmLabel="Turn off"
        onClose={() => setDisabling(false)}
        onConfirm={async () => {
          await call<App>("PATCH", "/v1/app", { body: { endUserAuth: null }, idempotencyKey: newIdempotencyKey("end-user-auth-off") });
          resetAuthForm();
          say("End-user authentication turned off.");
          app.reload();
        }}
      />
    </>
  );
}
