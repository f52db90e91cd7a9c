/* placeholder until detmath lands */
#include "common/detmath.h"
