import area from './sse.ts';
import { register } from '../vitest.ts';

register(area);
