import area from './origin.ts';
import { register } from '../vitest.ts';

register(area);
