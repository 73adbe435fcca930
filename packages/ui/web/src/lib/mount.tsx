/** Renders a page's root component into #app with the shared styles. */

import type { ComponentType } from 'preact';
import { render } from 'preact';
import './styles.css';

export function mountPage(Root: ComponentType): void {
  const el = document.getElementById('app');
  if (el) render(<Root />, el);
}
