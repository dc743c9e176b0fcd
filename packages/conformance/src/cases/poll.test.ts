import area from './poll.ts';
import { register } from '../vitest.ts';

register(area);
