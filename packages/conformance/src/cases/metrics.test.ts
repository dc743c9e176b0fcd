import area from './metrics.ts';
import { register } from '../vitest.ts';

register(area);
