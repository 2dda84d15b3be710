/**
 * An LLM chat turn paid for with credits: `guard` holds the worst-case cost, the simulated
 * model streams tokens, each chunk is captured as it arrives (so a crash mid-stream still
 * charges what was delivered), and the final cost is confirmed; the rest of the hold is
 * released. A failing stream cancels the hold, keeping only what was captured.
 *
 *   TALLY_BASE_URL=http://127.0.0.1:8787 TALLY_API_KEY=sk_… node --import tsx examples/llm-chat.ts
 */
import { InsufficientCreditsError, Tally, TallyError } from "@tally/sdk";

const tally = new Tally({ apiKey: requireEnv("TALLY_API_KEY"), baseUrl: process.env["TALLY_BASE_URL"] ?? "http://127.0.0.1:8787" });
const run = Date.now().toString(36);
const userId = `chat-user-${run}`;

/** Credits per 1,000 output tokens; a turn may produce at most maxTokens. */
const CREDITS_PER_1K_TOKENS = 10;
const MAX_TOKENS = 2_000;

/** A simulated streaming model: yields chunks of tokens, optionally failing midway. */
async function* streamModel(prompt: string, failAfterChunks?: number): AsyncGenerator<{ text: string; tokens: number }> {
  const words = `You asked: "${prompt}". Here is a considered, streaming answer from a simulated model.`.split(" ");
  for (let i = 0; i < words.length; i++) {
    if (failAfterChunks !== undefined && i === failAfterChunks) throw new Error("model connection reset");
    await new Promise((r) => setTimeout(r, 5));
    yield { text: `${words[i]} `, tokens: 100 };
  }
}

const cost = (tokens: number) => Math.ceil((tokens * CREDITS_PER_1K_TOKENS) / 1000);

async function chatTurn(prompt: string, failAfterChunks?: number): Promise<string> {
  return tally.guard(
    { externalId: userId, amount: cost(MAX_TOKENS), operation: "llm.chat", ttlSeconds: 120, description: "chat turn" },
    async (hold) => {
      let text = "";
      let tokens = 0;
      let pendingTokens = 0;
      for await (const chunk of streamModel(prompt, failAfterChunks)) {
        text += chunk.text;
        tokens += chunk.tokens;
        pendingTokens += chunk.tokens;
        // Settle every full credit's worth of tokens as it streams.
        const due = cost(tokens) - hold.captured;
        if (pendingTokens >= 300 && due > 0) {
          await hold.capture(due);
          pendingTokens = 0;
        }
      }
      hold.setAmount(cost(tokens)); // the total: captures + the rest
      await tally.usage.record({ externalId: userId, context: "customer", modelId: "sim-llm-1", usageType: "text", inputTokens: prompt.length, outputTokens: tokens });
      console.log(`  streamed ${tokens} tokens, captured ${hold.captured} along the way, total ${cost(tokens)} credits (held ${hold.reserved})`);
      return text.trim();
    },
    { cancelReason: "stream failed" },
  );
}

async function main(): Promise<void> {
  await tally.credits.grant({ externalId: userId, amount: 100, source: "promotional", description: "welcome credits" });
  const start = await tally.accounts.balance({ externalId: userId });
  console.log(`start: ${start.available} credits`);

  const reply = await chatTurn("What is a credits ledger?");
  console.log(`reply: ${reply}`);
  const afterOk = await tally.accounts.balance({ externalId: userId });
  console.log(`after a full turn: ${afterOk.available} available, ${afterOk.reserved} reserved`);
  if (afterOk.reserved !== 0) throw new Error("hold not released");
  const charged = start.available - afterOk.available;
  if (charged <= 0 || charged > cost(MAX_TOKENS)) throw new Error(`unexpected charge ${charged}`);

  try {
    await chatTurn("This one breaks", 5);
    throw new Error("expected the stream to fail");
  } catch (error) {
    if (!(error instanceof Error) || error.message !== "model connection reset") throw error;
  }
  const afterFail = await tally.accounts.balance({ externalId: userId });
  console.log(`after a failed turn: ${afterFail.available} available (captured part kept), ${afterFail.reserved} reserved`);
  if (afterFail.reserved !== 0) throw new Error("failed turn left a hold");

  const { items } = await tally.transactions.list({ externalId: userId, limit: 10 });
  for (const t of items) console.log(`  ${t.createdAt} ${t.type.padEnd(20)} ${String(t.amount).padStart(5)} → ${t.balanceAfter}`);

  try {
    await tally.guard({ externalId: userId, amount: 1_000_000 }, () => "never runs");
  } catch (error) {
    if (!(error instanceof InsufficientCreditsError)) throw error;
    console.log(`a turn beyond the balance is refused before the model runs: ${error.code}`);
  }
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`set ${name}`);
    process.exit(2);
  }
  return value;
}

main().then(
  () => console.log("llm chat: ok"),
  (err: unknown) => {
    if (err instanceof TallyError) console.error("FAILED:", err.code, err.status, err.message, err.requestId, err.details);
    else console.error("FAILED:", err);
    process.exit(1);
  },
);
