import area from './ws.ts';
import { register } from '../vitest.ts';

register(area);
