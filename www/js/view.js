// view.js - the view library in one place: Preact's h bound to htm tagged
// templates (no build step), its hooks, and signals.  Importing
// @preact/signals also makes a component re-render when a signal it read
// changes.  Text interpolated into html`` becomes text nodes, never HTML.
import { h, render, Fragment } from '../vendor/preact/preact.module.js';
import {
	useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback,
} from '../vendor/preact/hooks.module.js';
import htm from '../vendor/htm/htm.module.js';
import { signal, computed, effect, batch } from '../vendor/signals/signals.module.js';

export const html = htm.bind(h);
export {
	h, render, Fragment, useState, useEffect, useLayoutEffect, useRef, useMemo,
	useCallback, signal, computed, effect, batch,
};
