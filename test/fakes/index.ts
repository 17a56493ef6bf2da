export * from './fake-http-server';
export * from './fake-twilio';
export * from './fake-ses';
export * from './fake-otlp';
