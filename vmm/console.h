/*
 * The console: the serial port's output (stdout or --serial-out's file)
 * and host input from stdin, with the terminal in the guest's hands
 * while the VM runs. Event loop thread, like the rest of the lifecycle.
 */
#ifndef WISP_CONSOLE_H
#define WISP_CONSOLE_H

struct vmm;

/* Open the output and set up the UART on it. 0 or -1 (logged). */
int console_open(struct vmm *m);
/* Serve the UART's "room for input again" eventfd. 0 or -1. */
int console_attach(struct vmm *m);
/* Start reading stdin for the guest when configured (serial_in). */
void console_input_start(struct vmm *m);
/* Undo console_open() and console_attach(), also half done. */
void console_close(struct vmm *m);
/* Give the terminal back as it was (the main thread, at the end). */
void console_tty_restore(struct vmm *m);

#endif
