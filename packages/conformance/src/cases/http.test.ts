import area from './http.ts';
import { register } from '../vitest.ts';

register(area);
