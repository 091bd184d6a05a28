/** A shared clock for elapsed times and countdowns: one timer for every component that shows time. */
import { onBeforeUnmount, onMounted, type Ref, ref } from 'vue';

const now = ref(Date.now());
let users = 0;
let timer: ReturnType<typeof setInterval> | null = null;

export function useNow(): Ref<number> {
  onMounted(() => {
    if (users++ === 0) timer = setInterval(() => (now.value = Date.now()), 250);
  });
  onBeforeUnmount(() => {
    if (--users === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  });
  return now;
}
