/** Starts OpenTelemetry tracing when an OTLP endpoint is configured (libs/tracing); main.ts imports this before any module that uses node:http. */
import { startTracing } from '@lib/tracing';

startTracing('device-2fa-api');
