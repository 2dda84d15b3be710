import type { FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";

/**
 * `/docs`: the API reference rendered from the OpenAPI document by Swagger UI, whose assets ship
 * inside the `@fastify/swagger-ui` package (no CDN: works offline).
 */
export async function registerDocs(app: FastifyInstance, document: Record<string, unknown>): Promise<void> {
  await app.register(swagger, { mode: "static", specification: { document: document as never } });
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { docExpansion: "list", deepLinking: true }, staticCSP: true });
}
