import area from './cross.ts';
import { register } from '../vitest.ts';

register(area);
