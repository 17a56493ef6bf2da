export * from './tracing';
export * from './span-hygiene';
