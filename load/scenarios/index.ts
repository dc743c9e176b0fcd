export * from './env.ts';
export * from './protocols.ts';
export { subscribers, type SubscribersParams } from './subscribers.ts';
export { publisher, type PublisherParams } from './publisher.ts';
export { throughput, type ThroughputParams } from './throughput.ts';
export { churn, type ChurnParams } from './churn.ts';
