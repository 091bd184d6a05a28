/**
 * The dashboard's colour theme: the system's (prefers-color-scheme) unless a
 * person chose light or dark with the header's switch; the choice is kept in
 * the browser (localStorage).
 */
import { computed, onBeforeUnmount, onMounted, ref } from 'vue';

export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'comfy-queue.theme';
const ORDER: ThemeChoice[] = ['system', 'light', 'dark'];

function stored(): ThemeChoice {
  try {
    const v = globalThis.localStorage?.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system'; // storage refused (private mode, sandbox): the system's theme
  }
}

export function useTheme() {
  const choice = ref<ThemeChoice>(stored());
  const systemLight = ref(false);
  let media: MediaQueryList | null = null;
  const onChange = (e: MediaQueryListEvent) => (systemLight.value = e.matches);
  onMounted(() => {
    media = globalThis.matchMedia?.('(prefers-color-scheme: light)') ?? null;
    systemLight.value = media?.matches ?? false;
    media?.addEventListener('change', onChange);
  });
  onBeforeUnmount(() => media?.removeEventListener('change', onChange));
  const theme = computed<'light' | 'dark'>(() =>
    choice.value === 'system' ? (systemLight.value ? 'light' : 'dark') : choice.value,
  );
  function next(): void {
    choice.value = ORDER[(ORDER.indexOf(choice.value) + 1) % ORDER.length]!;
    try {
      if (choice.value === 'system') globalThis.localStorage?.removeItem(KEY);
      else globalThis.localStorage?.setItem(KEY, choice.value);
    } catch {
      // not kept across reloads; the switch still works for this page
    }
  }
  return { choice, theme, next };
}
