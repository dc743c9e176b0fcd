import area from './lifecycle.ts';
import { register } from '../vitest.ts';

register(area);
