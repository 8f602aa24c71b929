#include <stdio.h>
int main(void) { puts("qconvert"); return 0; }
