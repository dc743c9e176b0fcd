import area from './auth.ts';
import { register } from '../vitest.ts';

register(area);
