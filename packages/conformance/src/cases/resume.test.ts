import area from './resume.ts';
import { register } from '../vitest.ts';

register(area);
