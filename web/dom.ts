/** DOM helpers shared by the pages of web/ (each page is bundled on its own, so this is copied into each). */

/** The page's element with this id; a page whose HTML lacks it is broken, so say which one. */
export function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`#${id} is missing from the page`);
  return found as T;
}
