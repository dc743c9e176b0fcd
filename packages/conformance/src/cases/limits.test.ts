import area from './limits.ts';
import { register } from '../vitest.ts';

register(area);
