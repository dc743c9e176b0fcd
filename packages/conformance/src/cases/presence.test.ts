import area from './presence.ts';
import { register } from '../vitest.ts';

register(area);
