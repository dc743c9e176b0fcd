import area from './rate.ts';
import { register } from '../vitest.ts';

register(area);
