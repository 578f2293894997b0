import { openStore } from '../store/index.ts';
import { runRecordingConformance } from './recording.case.ts';

runRecordingConformance('embedded, in memory', () => openStore({ embedded: { path: undefined } }));
