import area from './bad-input.ts';
import { register } from '../vitest.ts';

register(area);
