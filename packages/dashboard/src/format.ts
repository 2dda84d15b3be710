const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** Amounts are integers in the unit's smallest denomination: shown with separators, never rounded. */
export function amount(n: number | null | undefined): string {
  return n === null || n === undefined ? "—" : integer.format(n);
}

/** Signed ledger amounts carry an explicit sign, so the direction never depends on colour alone. */
export function signed(n: number): string {
  return n > 0 ? `+${integer.format(n)}` : n < 0 ? `−${integer.format(-n)}` : "0";
}

export function short(n: number): string {
  return compact.format(n);
}

const dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
const dateOnly = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
const hourOnly = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });

/** Times are shown in UTC, as the API stores and buckets them, and say so. */
export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return "—";
  return `${dateTime.format(new Date(iso))} UTC`;
}

export function bucketLabel(iso: string, bucket: "day" | "hour"): string {
  const d = new Date(iso);
  return bucket === "day" ? dateOnly.format(d) : `${dateOnly.format(d)} ${hourOnly.format(d)}`;
}

export function accountLabel(a: { externalId: string | null; name: string | null; email: string | null; accountId?: string; id?: string }): string {
  return a.name ?? a.externalId ?? a.email ?? a.accountId ?? a.id ?? "—";
}
