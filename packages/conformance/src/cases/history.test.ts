import area from './history.ts';
import { register } from '../vitest.ts';

register(area);
